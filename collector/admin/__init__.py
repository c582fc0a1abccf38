"""Administration of a deployment: the project CA and per-agent credentials, mosquitto's
config, passwords and ACL, the site registry, and the Ansible inventory and vault."""
