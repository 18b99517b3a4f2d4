"""Product images: a small ResNet trained from scratch (or from local pretrained weights), a
colour/gradient-histogram LightGBM floor, visual embeddings for similar items, auto-tagging."""

from shopml.vision.base import ImageClassifier
from shopml.vision.cnn import CNNClassifier
from shopml.vision.floor import HistogramGBMClassifier

__all__ = ["CNNClassifier", "HistogramGBMClassifier", "ImageClassifier"]
