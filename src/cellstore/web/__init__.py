"""The web interface: a static single-page app served at ``/`` that talks to the JSON API."""
