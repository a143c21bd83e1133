-- Reserved for first-factor enrolment (invites, self-enrolment windows); filled in by that change.
SELECT 1;
