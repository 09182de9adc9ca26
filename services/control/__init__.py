"""The control plane's HTTP side: REST handlers mounted into the API service, the OpenAPI document
built from the route table, the data-plane snapshot endpoint and the client data-plane processes
use to follow it, and the operator CLI (``secchain tenants|vpcs|sites|listeners|keys|config``)."""
