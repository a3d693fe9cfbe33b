"""Reporting: the JAG briefing pack and the exports for GIS and spreadsheets."""
