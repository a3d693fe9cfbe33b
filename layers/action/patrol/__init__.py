"""Patrols: which cells to visit, the shift's timetable, and GPX/KML."""
