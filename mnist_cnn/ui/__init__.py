"""The Streamlit page, one module per tab; app.py is the table of contents."""
