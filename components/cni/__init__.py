"""CNI installation: the vendor x CNI matrix (pure data) and the component that installs it."""
