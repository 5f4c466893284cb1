"""The clients every surface and deployment uses to reach the system's actors and Serve deployments
over Ray handles: they implement `core.app.ports`, on one base (`actors.clients.base`)."""
