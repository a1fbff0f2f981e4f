"""Operations: alert rules, their scheduler and webhook posts (issue 18)."""
