"""Running the app as several UI worker processes behind nginx on one machine (``serve --workers N``)."""
