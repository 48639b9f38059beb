"""`infra load`: an open-model load generator with coordinated-omission-free latencies and a capacity search."""
