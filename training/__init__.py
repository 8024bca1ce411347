"""Training scripts (classification, quality assessment, detection, segmentation).

They import the package; the package never imports them.
"""
