"""Reading published reports (web pages, text copies, PDF and Word files) as nianbao data: `read_published`."""
