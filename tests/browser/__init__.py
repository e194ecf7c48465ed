"""Browser tests: the real app under hypercorn, driven by Debian's Chromium through
Playwright. Screenshots of the main pages land in test-artifacts/screenshots/."""
