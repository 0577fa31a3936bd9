"""Test helpers shipped with the package (as httpx ships its test transport):
a throwaway real ``slapd`` for tests, the demo and the benchmark."""
