"""Sinks of the neutral scene outside the browser: glTF/GLB files (:mod:`.gltf`)."""

from .gltf import ExportError, ExportResult, export_gltf

__all__ = ["ExportError", "ExportResult", "export_gltf"]
