"""Oore: self-hosted CI/CD for app teams, built on trio."""

__version__ = "0.1.0"
