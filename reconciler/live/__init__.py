"""Live state: what every node reports, read over SSH and SFTP, never changed."""
