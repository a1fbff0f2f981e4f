"""Operations (issue 18): alert rules, their scheduler and webhook posts; window statistics
for /admin/health; documentation gaps."""
