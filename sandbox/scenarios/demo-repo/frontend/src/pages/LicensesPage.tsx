import { useQuery } from "@tanstack/react-query";

import { api } from "@/api/client";
import type { License } from "@/types";

const dateFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium" });

function renewal(license: License): string {
  return license.autoRenew ? `every ${license.renewalPeriodDays} days` : "off";
}

export default function LicensesPage() {
  const { data, error, isLoading } = useQuery({ queryKey: ["licenses", 1], queryFn: () => api.licenses(1) });

  if (isLoading) return <p>Loading licences…</p>;
  if (error) return <p className="error">Could not load licences: {error.message}</p>;

  return (
    <table className="licenses">
      <thead>
        <tr>
          <th>Key</th>
          <th>Plan</th>
          <th>Status</th>
          <th>Seats</th>
          <th>Expires</th>
          <th>Auto-renew</th>
        </tr>
      </thead>
      <tbody>
        {data?.results.map((license) => (
          <tr key={license.id}>
            <td className="mono">{license.key}</td>
            <td>{license.plan}</td>
            <td>{license.status}</td>
            <td>{license.seats}</td>
            <td>{dateFormat.format(new Date(license.expiresAt))}</td>
            <td>{renewal(license)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
