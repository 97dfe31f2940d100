"""The MMP side: SSH transport, interactive session and output parsers."""

import sys

# paramiko.config imports `invoke` (and through it unittest.mock): about 45 ms of every run's
# start-up, used only for `Match exec` lines of an ssh_config file, which we never read.
# paramiko handles the ImportError this entry causes (paramiko/config.py: `invoke = None`).
# Set here, in the package every import of the transport goes through, before paramiko loads.
sys.modules.setdefault("invoke", None)  # type: ignore[arg-type]
