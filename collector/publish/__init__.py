"""The public page for residents: a static site with each kelurahan's month (`pantau publish`)."""
