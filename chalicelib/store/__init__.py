"""DynamoDB storage: pynamodb models and the few queries and conditional writes the services need."""
