"""The public API's request and response models (`<Res>Create`, `<Res>Update`, `<Res>Public`)."""
