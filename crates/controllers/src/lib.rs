//! The federation-controller-manager: reconcilers that push federated objects into member clusters. Not implemented yet (issue 5).
