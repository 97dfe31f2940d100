"""A simulated CMS database cluster served over real SSH and SFTP."""
