"""``archon serve``'s library: architectures behind an OpenAI-compatible HTTP endpoint.

protocol.py  the OpenAI wire format (request parsing, ChatCompletion, stream chunks, error bodies)
service.py   which architecture answers, the key, running through the shared gateway, failures, drain
app.py       the FastAPI routes
host.py      uvicorn: the socket, the clean stop on SIGTERM, a background-thread server
request_log.py  the JSONL request log (owner of its format)
"""

from archon_cli.server.service import ArchitectureService, ServedArchitecture, ServeOptions

__all__ = ["ArchitectureService", "ServeOptions", "ServedArchitecture"]
