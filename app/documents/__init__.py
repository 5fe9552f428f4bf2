"""Documents: loading PDF and text files into text with provenance, and sentence segmentation. No Qt."""
