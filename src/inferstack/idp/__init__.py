"""Intelligent document processing: read (PDF text layers, images through tesseract OCR) →
extract to a JSON schema on the chat model (grammar-enforced) with per-field evidence → score
each field → decide (auto-approve or review) → store → review queue API.

idp is an app: it speaks the OpenAI API over HTTP to the gateway or a model server and never
imports engines, models or serving.
"""

__all__: list[str] = []
