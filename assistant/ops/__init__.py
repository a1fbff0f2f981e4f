"""Operations: window statistics for /admin/health and documentation gaps (issue 18)."""
