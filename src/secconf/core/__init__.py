"""The bottom layer: errors, the masked Secret, YAML, files, retries and the Vault client.

Nothing here imports any other secconf package.
"""
