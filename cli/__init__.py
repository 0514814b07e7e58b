"""The novatrace command line (click). Pure cores live in tracefmt/, replay/, analyzers/."""
