"""Plain domain classes; storage maps them onto tables from the outside."""
