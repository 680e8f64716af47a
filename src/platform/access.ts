/**
 * Who may do what to which platform. The caller comes from App Service Authentication (parsed in
 * src/http/principal.ts); the rules here are pure so the service applies them and tests check them
 * without HTTP.
 *
 * - Platforms.Admin: everything on every platform, also on records without owners (made before owners
 *   were recorded, which only admins see).
 * - Platforms.Operator: creates platforms (and becomes an owner), reads and operates (stop, start, wake,
 *   retry, change, wipe, delete, change the owners) the platforms it owns.
 * - Platforms.Reader: reads the platforms it owns.
 *
 * A caller owns a platform when its object id or one of its group ids is among the platform's owners.
 */

/** The app roles of the API's Entra app registration, as they arrive in the `roles` claim. */
export const ROLES = {
  admin: 'Platforms.Admin',
  operator: 'Platforms.Operator',
  reader: 'Platforms.Reader',
} as const;
export type Role = (typeof ROLES)[keyof typeof ROLES];
const KNOWN_ROLES: readonly string[] = Object.values(ROLES);

/** An authenticated caller: an Entra object id (a person or a pipeline's service principal), groups, roles. */
export interface Caller {
  objectId: string;
  groups: readonly string[];
  /** Only the roles this API knows; others are dropped when the principal is read. */
  roles: readonly Role[];
}

/** read: GET one, its status, the list. create: POST /platforms. operate: every change of one platform. */
export type Action = 'read' | 'create' | 'operate';

const ROLE_ACTIONS: Record<Role, readonly Action[]> = {
  'Platforms.Admin': ['read', 'create', 'operate'],
  'Platforms.Operator': ['read', 'create', 'operate'],
  'Platforms.Reader': ['read'],
};

export const knownRoles = (roles: readonly string[]): Role[] => [
  ...new Set(roles.filter((r): r is Role => KNOWN_ROLES.includes(r))),
];

export const isAdmin = (caller: Caller): boolean => caller.roles.includes(ROLES.admin);

/** Whether the caller's roles allow the action at all (ownership aside). */
export const roleAllows = (caller: Caller, action: Action): boolean =>
  caller.roles.some((r) => ROLE_ACTIONS[r].includes(action));

/** Whether the caller may see the platform: an admin, or an owner. No owners recorded: admins only. */
export function canSee(caller: Caller, owners: readonly string[] | undefined): boolean {
  if (isAdmin(caller)) return true;
  if (!owners || owners.length === 0) return false;
  const ids = new Set([caller.objectId, ...caller.groups].map((id) => id.toLowerCase()));
  return owners.some((o) => ids.has(o.toLowerCase()));
}

/**
 * The app acting on its own behalf (the idle sweep's stop): every platform, as an admin. Its object id is
 * no GUID, so no principal header can ever name it.
 */
export const APP_ITSELF: Caller = { objectId: 'app', groups: [], roles: [ROLES.admin] };
