"""Research on the backtest: parameter sweeps (local processes or a Dask cluster) and
walk-forward analysis. Every run is ``backtest.rebalance_backtester.simulate``: one core."""
