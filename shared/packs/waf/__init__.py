"""WAF (SecLang) packs: lint, test cases, bundle compilation."""
