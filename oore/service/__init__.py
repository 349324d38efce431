"""Service management for `oored`: the env file (`init`), the launchd daemon and the systemd unit
(`install`, `uninstall`, `start`, `stop`, `restart`, `status`, `logs`) and `doctor`.

Every command is first a plan, a list of `steps` (write this file, run that command), which a
runner either carries out or, for `--dry-run`, prints. Files are rendered from the templates in
`oore/deploy/`.
"""
