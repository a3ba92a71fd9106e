"""In-app notifications and the message centre: any app tells a user something with
``services.notify``; the header shows the unread count, the message centre lists them grouped by
contact and category."""
