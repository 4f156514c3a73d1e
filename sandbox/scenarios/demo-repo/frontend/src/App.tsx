import { Route, Routes } from "react-router-dom";

import UserMenu from "./components/UserMenu";
import LicensesPage from "./pages/LicensesPage";

export default function App() {
  return (
    <div className="app">
      <header className="app-header">
        <span className="brand">Coditect Licensing</span>
        <UserMenu />
      </header>
      <main>
        <Routes>
          <Route path="/" element={<LicensesPage />} />
        </Routes>
      </main>
    </div>
  );
}
