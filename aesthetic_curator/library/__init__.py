"""The album library: scanning, thumbnails, the ratings store, XMP interop and export.

No Qt here: long work reports through callbacks and stops through a cancel token.
"""
