"""The `oore` command groups, one module each; every module exports its `COMMANDS`."""
