"""Synthetic test images with exact ground truth (corners, rotation, masks, boxes)."""
