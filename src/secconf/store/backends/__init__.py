"""Store backends: one module per backend, each declaring a `StoreBackend`."""
