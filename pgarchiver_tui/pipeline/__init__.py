"""The chain of small streaming stages shared by archive, verify and restore.

Every stage is a generator function taking an iterator of byte chunks and yielding byte chunks, so a chain
is plain function composition and its memory is one chunk per stage, whatever the size of the stream:

    archive:  source.copy_out → formats.encode → digest.count → codecs.compress → digest.hash → storage
    verify:   storage.read → digest.hash_etag → digest.hash_sha256 → codecs.decompress → digest.count → decode
    restore:  the verify chain → copy_in.load (COPY … FROM STDIN)
"""
