"""The MMP side: SSH transport, interactive session and output parsers."""
