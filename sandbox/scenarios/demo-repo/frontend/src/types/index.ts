// Shapes of the JSON the Django API returns. The API renders camelCase keys
// (djangorestframework-camel-case), so every field here is the camelCase form
// of the serializer's snake_case field.

export type LicensePlan = "starter" | "team" | "enterprise";

export type LicenseStatus = "active" | "suspended" | "expired" | "revoked";

export type MembershipRole = "owner" | "admin" | "member";

export interface User {
  id: number;
  email: string;
  name: string;
  company: string;
  isEmailVerified: boolean;
  dateJoined: string;
}

export interface Organization {
  id: number;
  name: string;
  slug: string;
  billingEmail: string;
  isActive: boolean;
  createdAt: string;
}

export interface Membership {
  id: number;
  organization: number;
  user: number;
  role: MembershipRole;
  joinedAt: string;
}

export interface License {
  id: number;
  key: string;
  organization: number;
  plan: LicensePlan;
  status: LicenseStatus;
  seats: number;
  maxConcurrentSessions: number;
  issuedAt: string;
  expiresAt: string;
  autoRenew: boolean;
  renewalPeriodDays: number;
}

export interface Paginated<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}
