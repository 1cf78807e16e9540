"""The server glue: warm-up, routes and middleware, and the page of the first second."""
