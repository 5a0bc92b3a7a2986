"""Signal generators. Users bring their own signals; the baseline lets the demo gate orders."""
