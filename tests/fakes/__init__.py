"""Local servers standing in for providers (GitHub, GitLab, git hosts) in tests."""
