"""Records: places, concern reports, activities, incidents and postcodes, and their import."""
