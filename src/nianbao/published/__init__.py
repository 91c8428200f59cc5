"""Reading published reports (web pages and text copies) as nianbao data: `read_published`."""
