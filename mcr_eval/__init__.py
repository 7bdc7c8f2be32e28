"""mcr evaluation package: probes, transfer, audit, representation metrics and reports."""
