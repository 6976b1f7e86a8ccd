"""The built-in domain plugins, installed as ``mengchong_plugins.<name>``.

Each one is a small package whose ``__init__`` holds its hookimpls; it is found through the
``mengchong.plugins`` entry point group like any third-party plugin, and enabled or disabled
by ``[plugins] enabled`` in config.toml.
"""
